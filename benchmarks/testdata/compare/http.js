// http.js: plain HTTP load against the local target that benchmarks/cmd/compare starts
// (CMP_TARGET): a fixed number of iterations (300 a second for 20 s: 6,000), each two requests
// and a check, so every variant does the same work. CMP_DURATION shortens the run.
import http from 'k6/http';
import { check } from 'k6';

const BASE = (__ENV.CMP_TARGET || 'http://127.0.0.1:8080').replace(/\/+$/, '');

export const options = {
  scenarios: {
    http: {
      executor: 'constant-arrival-rate',
      rate: 300,
      timeUnit: '1s',
      duration: __ENV.CMP_DURATION || '20s',
      preAllocatedVUs: 20,
      maxVUs: 100,
    },
  },
};

export default function () {
  const home = http.get(`${BASE}/`);
  check(home, { 'home is 200': (r) => r.status === 200 });
  const items = http.get(`${BASE}/api/items`);
  check(items, { 'items is 200': (r) => r.status === 200 });
}
