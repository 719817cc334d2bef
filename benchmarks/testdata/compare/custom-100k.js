// custom-100k.js: custom metrics of all four types over 100,000 distinct ids (id0..id99999), for
// benchmarks/cmd/compare; the load itself is lib/custom.js.
import { options, run } from './lib/custom.js';

export { options };
export default run(100000);
