// A short script for the tests that only need some samples, not particular values.
import http from 'k6/http';
import { Counter } from 'k6/metrics';

const BASE = (__ENV.TARGET_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const jobs = new Counter('e2e_jobs');

export const options = { vus: 1, iterations: 3 };

export default function () {
  http.get(`${BASE}/`);
  jobs.add(1);
}
