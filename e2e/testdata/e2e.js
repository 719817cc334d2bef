// End-to-end script: HTTP requests to the in-process target (one answers 404), checks, a group,
// and one custom metric of each kind. Every value is fixed, whatever the scheduling: the suite
// compares what the receivers stored with k6's own end-of-test summary.
import http from 'k6/http';
import exec from 'k6/execution';
import { check, group, sleep } from 'k6';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const BASE = (__ENV.TARGET_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const VUS = 4;
const ITERATIONS = 25; // per VU
const PER_ITERATION = 10; // trend values added by each iteration

// Tags that need care: a name that is not a valid label name, a value with a quote and non-ASCII.
const ODD_TAGS = { 'my-tag': 'x"é✓' };

const jobs = new Counter('e2e_jobs');
const depth = new Gauge('e2e_queue_depth');
const jobOK = new Rate('e2e_job_ok');
const wait = new Trend('e2e_wait', true); // a time trend: milliseconds in k6, seconds in Prometheus
const batch = new Trend('e2e_batch_size');

export const options = {
  scenarios: {
    e2e: { executor: 'per-vu-iterations', vus: VUS, iterations: ITERATIONS, maxDuration: '60s' },
  },
};

export default function () {
  const iter = exec.scenario.iterationInTest; // 0 .. VUS*ITERATIONS-1, each exactly once

  group('api', () => {
    const items = http.get(`${BASE}/api/items`);
    check(items, {
      'items status is 200': (r) => r.status === 200,
      'items has three entries': (r) => r.json().length === 3,
    });
    const echo = http.post(`${BASE}/api/echo`, JSON.stringify({ iter }), {
      headers: { 'Content-Type': 'application/json' },
    });
    check(echo, { 'echo status is 200': (r) => r.status === 200 });
  });

  const home = http.get(`${BASE}/`);
  check(home, { 'home status is 200': (r) => r.status === 200 });
  const missing = http.get(`${BASE}/missing`); // a 404: counts as failed in http_req_failed
  check(missing, { 'missing status is 404': (r) => r.status === 404 });

  jobs.add(1, ODD_TAGS);
  jobs.add(2, { 'my-tag': 'plain' });
  jobOK.add(iter % 5 !== 0); // 80% pass; one series

  // The trend values are a permutation of a fixed grid, so their percentiles do not depend on
  // the order the VUs run in, and the grid is fine enough for a histogram to estimate them.
  for (let k = 0; k < PER_ITERATION; k++) {
    const idx = ((iter * PER_ITERATION + k) * 7) % (VUS * ITERATIONS * PER_ITERATION);
    wait.add(20 + idx * 0.25);
    batch.add(100 + idx);
  }

  // One series written by one VU in order, so the last value is well defined.
  if (exec.vu.idInTest === 1) {
    depth.add(exec.vu.iterationInScenario * 3 + 1);
  }
  sleep(0.2);
}
