// A CPU-bound custom-metrics script of a fixed number of iterations (ITERATIONS, default
// 400000) and no sleeps, so k6's run time and CPU show any back-pressure from the output.
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';

const KINDS = ['a', 'b', 'c', 'd'];
const ops = new Counter('hot_ops');
const size = new Trend('hot_size');

export const options = {
  scenarios: {
    hot: {
      executor: 'shared-iterations',
      vus: 2,
      iterations: parseInt(__ENV.ITERATIONS || '400000', 10),
      maxDuration: '120s',
    },
  },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  ops.add(1 + (i % 3), { kind: KINDS[i % 4] });
  size.add(i % 1000);
}
