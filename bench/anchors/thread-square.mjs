// Worker side of node-threads.mjs: squares a number, or each number of a batch.
export default function square(x) {
  return Array.isArray(x) ? x.map((v) => v * v) : x * x;
}
