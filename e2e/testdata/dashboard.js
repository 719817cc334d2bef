// Dashboard script: two scenarios, HTTP requests to the in-process target (one answers 404, so
// http_req_failed is not zero), a group, and checks of which one always fails (so the checks
// pass rate is not one). It runs a few seconds, long enough for k6 to sample its VU gauges and
// for several flushes at a 1s push interval, so rates have two samples to work with.
import http from 'k6/http';
import { check, group, sleep } from 'k6';

const BASE = (__ENV.TARGET_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

export const options = {
  scenarios: {
    browse: { executor: 'per-vu-iterations', vus: 2, iterations: 15, maxDuration: '30s', exec: 'browse' },
    api: { executor: 'per-vu-iterations', vus: 2, iterations: 15, maxDuration: '30s', exec: 'api' },
  },
};

export function browse() {
  const home = http.get(`${BASE}/`);
  check(home, { 'home status is 200': (r) => r.status === 200 });
  const missing = http.get(`${BASE}/missing`); // a 404: failed in http_req_failed
  check(missing, { 'missing page is found': (r) => r.status === 200 }); // always fails
  sleep(0.2);
}

export function api() {
  group('api', () => {
    const items = http.get(`${BASE}/api/items`);
    check(items, { 'items has three entries': (r) => r.json().length === 3 });
    const echo = http.post(`${BASE}/api/echo`, JSON.stringify({ ok: true }), {
      headers: { 'Content-Type': 'application/json' },
    });
    check(echo, { 'echo status is 200': (r) => r.status === 200 });
  });
  sleep(0.2);
}
