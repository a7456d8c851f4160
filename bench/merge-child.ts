/**
 * The child process of the merge benchmark: runs the compiled `merge` CLI (dist/, as users run it; the bench
 * builds it first) with the given arguments, then reports its own peak RSS on stderr (see rss.ts). Like
 * bin/merge.js it sizes libuv's I/O thread pool before anything uses it. Running the sources through tsx instead
 * would add the transpiling of every worker thread's modules to the measured merge time (0.4–1.1 s measured).
 *
 *   node --import tsx bench/merge-child.ts run recipe.yml --out DIR --json
 */
process.env.UV_THREADPOOL_SIZE ??= "16";
// A specifier in a variable: type checking must not need dist/ to exist (the sources have the same types).
const compiled = "../dist/cli/main.js";
const { main } = (await import(compiled)) as typeof import("../src/cli/main.js");
const { reportSelfRss } = await import("./rss.js");

const code = await main(process.argv.slice(2));
reportSelfRss();
process.exitCode = code;
