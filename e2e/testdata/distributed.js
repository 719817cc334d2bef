// Distributed-run script: one test that TestDistributed splits into four execution segments,
// one k6-penelopa process each. shared-iterations divides the iterations (and VUs) between the
// segments; every tag combination occurs in every segment, so each series exists once per
// instance and the receivers must keep the four apart. Every value is fixed: the counts and the
// trend values do not depend on how the segments are scheduled.
import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

const BASE = (__ENV.TARGET_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ITERATIONS = 200; // in the whole test; each of four segments runs a quarter
const GRID = 2 * ITERATIONS; // dist_think values added by the whole test, one extra aside

const jobs = new Counter('dist_jobs');
const ok = new Rate('dist_ok');
const think = new Trend('dist_think', true); // a time trend: milliseconds in k6, seconds in Prometheus

export const options = {
  scenarios: {
    dist: { executor: 'shared-iterations', vus: 8, iterations: ITERATIONS, maxDuration: '60s' },
  },
};

export default function () {
  const iter = exec.scenario.iterationInTest; // 0 .. ITERATIONS-1 across all segments, each once

  const home = http.get(`${BASE}/`);
  const items = http.get(`${BASE}/api/items`);
  const missing = http.get(`${BASE}/missing`); // a 404: a failure in http_req_failed
  check(home, { 'home status is 200': (r) => r.status === 200 });
  check(items, { 'items status is 200': (r) => r.status === 200 });
  check(missing, { 'missing status is 404': (r) => r.status === 404 });

  jobs.add(1, { kind: 'alpha' });
  jobs.add(2, { kind: 'beta' });
  ok.add(iter % 5 !== 0, { kind: 'alpha' }); // 80 % pass
  ok.add(iter % 3 !== 0, { kind: 'beta' }); // 66.5 % pass

  // The 2*ITERATIONS values are a permutation of a fixed grid, 5 ms .. 503.75 ms in 1.25 ms steps.
  for (let k = 0; k < 2; k++) {
    const idx = ((iter * 2 + k) * 37) % GRID;
    think.add(5 + idx * 1.25, { kind: k === 0 ? 'alpha' : 'beta' });
  }

  // One more request and one more value in the whole test, so that each trend has n values with
  // 0.95*(n-1) a whole number (601 requests, 401 values): k6's p95 is then one of the values
  // itself, and the histogram's estimate lies in that value's bucket.
  if (iter === 0) {
    http.get(`${BASE}/`);
    think.add(250, { kind: 'alpha' });
  }
  sleep(0.2);
}
