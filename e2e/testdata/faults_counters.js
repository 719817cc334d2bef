// Steady custom counters for the fault tests: every iteration adds fixed integer amounts to two
// counters (one split over four tag sets) and one rate, and requests the in-process target when
// TARGET_URL is set. Runs for DURATION (default 25s).
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

const BASE = (__ENV.TARGET_URL || '').replace(/\/+$/, '');
const KINDS = ['alpha', 'beta', 'gamma', 'delta'];

const ops = new Counter('faults_ops');
const bytes = new Counter('faults_bytes');
const ok = new Rate('faults_ok');

export const options = {
  scenarios: {
    steady: { executor: 'constant-vus', vus: 2, duration: __ENV.DURATION || '25s', gracefulStop: '5s' },
  },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  ops.add(1 + (i % 3), { kind: KINDS[i % 4] });
  bytes.add(100 + (i % 50));
  ok.add(i % 5 !== 0);
  if (BASE) {
    http.get(`${BASE}/`);
  }
  sleep(0.01);
}
