/**
 * The child process of the merge benchmark: runs the `merge` CLI from source (through tsx, so no build is
 * needed) with the given arguments, then reports its own peak RSS on stderr (see rss.ts). Like bin/merge.js it
 * sizes libuv's I/O thread pool before anything uses it.
 *
 *   node --import tsx bench/merge-child.ts run recipe.yml --out DIR --json
 */
process.env.UV_THREADPOOL_SIZE ??= "16";
const { main } = await import("../src/cli/main.js");
const { reportSelfRss } = await import("./rss.js");

const code = await main(process.argv.slice(2));
reportSelfRss();
process.exitCode = code;
