// Native-histogram script: one time Trend of 2000 fixed values spread evenly over 1..500 ms, in
// one tag set, plus HTTP requests to the in-process target. The values are a permutation of a
// fixed grid, so k6's count, sum and percentiles do not depend on how the VUs interleave.
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Trend } from 'k6/metrics';

const BASE = (__ENV.TARGET_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const VUS = 2;
const ITERATIONS = 100; // per VU
const PER_ITERATION = 10;
const N = VUS * ITERATIONS * PER_ITERATION; // 2000 values

const latency = new Trend('nh_latency', true); // k6_nh_latency_seconds

export const options = {
  scenarios: {
    native: { executor: 'per-vu-iterations', vus: VUS, iterations: ITERATIONS, maxDuration: '60s' },
  },
};

export default function () {
  const iter = exec.scenario.iterationInTest; // 0 .. VUS*ITERATIONS-1, each exactly once
  for (let k = 0; k < PER_ITERATION; k++) {
    const idx = ((iter * PER_ITERATION + k) * 7) % N; // 7 is prime to N: a permutation
    latency.add(1 + (idx * 499) / (N - 1)); // 1 ms .. 500 ms
  }
  http.get(`${BASE}/`);
  sleep(0.02);
}
