// lib/custom.js: the custom-metrics load of custom-10k.js and custom-100k.js, which differ only
// in how many distinct ids they cycle through. Exactly 3,000 iterations, paced at 120 a second
// (about 25 s), each adding one point of every metric for 100 ids in turn, so every id carries
// the same load: 1.2M custom samples. CMP_ITERATIONS overrides the count (the -quick run uses it).
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const POINTS = 100; // ids per iteration, 4 points each
const RATE = 120; // iterations a second
const ITERATIONS = parseInt(__ENV.CMP_ITERATIONS || '3000', 10);

const ops = new Counter('cmp_ops');
const level = new Gauge('cmp_level');
const ok = new Rate('cmp_ok');
const latency = new Trend('cmp_latency', true);

export const options = {
  scenarios: {
    custom: { executor: 'per-vu-iterations', vus: 1, iterations: ITERATIONS, maxDuration: '30m' },
  },
};

export function run(IDS) {
  return function () {
    const i = exec.scenario.iterationInTest;
    for (let j = 0; j < POINTS; j++) {
      const n = (i * POINTS + j) % IDS;
      const tags = { id: `id${n}` };
      ops.add(1, tags);
      level.add(n, tags);
      ok.add(n % 3 !== 0, tags);
      latency.add((n % 997) + 1, tags);
    }
    // Pace against the schedule, not the previous iteration, so a stall is caught up afterwards
    // and the iteration count never depends on the machine.
    const wait = exec.scenario.startTime + ((i + 1) * 1000) / RATE - Date.now();
    if (wait > 0) {
      sleep(wait / 1000);
    }
  };
}
