// custom-10k.js: custom metrics of all four types over 10,000 distinct ids (id0..id9999), for
// benchmarks/cmd/compare; the load itself is lib/custom.js.
import { options, run } from './lib/custom.js';

export { options };
export default run(10000);
