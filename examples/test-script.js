// The classic k6 test shape: ramp up, hold, ramp down; thresholds on latency and errors; checks
// and a group. It loads the example target (go run ./examples/target), or TARGET_URL.
//
//   ./k6-penelopa run --out penelopa=http://127.0.0.1:8428/api/v1/write examples/test-script.js
import http from 'k6/http';
import { check, group, sleep } from 'k6';

const BASE = (__ENV.TARGET_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

export const options = {
  stages: [
    { duration: '5s', target: 5 }, // ramp up to 5 VUs
    { duration: '10s', target: 5 }, // hold
    { duration: '5s', target: 0 }, // ramp down
  ],
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
  },
};

export default function () {
  group('browse', () => {
    const home = http.get(`${BASE}/`);
    check(home, { 'home is 200': (r) => r.status === 200 });

    const items = http.get(`${BASE}/api/items`);
    check(items, {
      'items is 200': (r) => r.status === 200,
      'items has 3 entries': (r) => r.json().length === 3,
    });
  });

  const slow = http.get(`${BASE}/api/slow`);
  check(slow, { 'slow answers within 200ms': (r) => r.timings.duration < 200 });

  // A 404 this test expects: not counted in http_req_failed.
  const missing = http.get(`${BASE}/status/404`, {
    responseCallback: http.expectedStatuses(404),
  });
  check(missing, { 'missing is 404': (r) => r.status === 404 });

  sleep(0.5);
}
