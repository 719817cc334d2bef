// soak.js: custom metrics of all four types whose `id` tag set changes every minute, for the
// soak mode of benchmarks/cmd/compare (-soak). Minute m (from 0) uses ids m*5000 .. m*5000+4999:
// 50 paced iterations a second, each adding one point of every metric for 10 ids in turn, so
// 2,000 points a second and every id of a minute gets the same load (6 points of each metric).
// A series is therefore live for one minute and then never touched again: an output that keeps
// every series it has seen grows by 5,000 ids a minute, one that forgets idle series stays flat.
// SOAK_DURATION sets the length (k6 duration syntax: 10m, 90s, 1m30s; default 10m); the
// minute boundaries follow the iteration count, not the clock, so the ids never depend on the
// machine.
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const IDS_PER_MINUTE = 5000;
const POINTS = 10; // ids per iteration, 4 points each
const RATE = 50; // iterations a second
const PER_MINUTE = RATE * 60; // iterations a minute

// seconds parses a k6-style duration made of h, m, s parts ("10m", "1m30s", "90s").
function seconds(d) {
  const re = /(\d+(?:\.\d+)?)(h|m|s)/g;
  let total = 0;
  let matched = '';
  let m;
  while ((m = re.exec(d)) !== null) {
    total += parseFloat(m[1]) * { h: 3600, m: 60, s: 1 }[m[2]];
    matched += m[0];
  }
  if (matched !== d || total <= 0) {
    throw new Error(`SOAK_DURATION=${d}: want a duration such as 10m, 90s or 1m30s`);
  }
  return total;
}

const ITERATIONS = Math.round(seconds(__ENV.SOAK_DURATION || '10m') * RATE);

const ops = new Counter('soak_ops');
const level = new Gauge('soak_level');
const ok = new Rate('soak_ok');
const latency = new Trend('soak_latency', true);

export const options = {
  scenarios: {
    soak: { executor: 'per-vu-iterations', vus: 1, iterations: ITERATIONS, maxDuration: '3h' },
  },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const minute = Math.floor(i / PER_MINUTE);
  const base = minute * IDS_PER_MINUTE;
  for (let j = 0; j < POINTS; j++) {
    const k = ((i % PER_MINUTE) * POINTS + j) % IDS_PER_MINUTE;
    const n = base + k;
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
}
