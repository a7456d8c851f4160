#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled library (dist/cli/main.js).
// A merge keeps many positioned reads and writes in flight (several per input of each worker thread, plus the
// background flushes of the output); libuv's default pool of 4 I/O threads would queue them. The pool is sized
// when first used, so this must run before the CLI is loaded; an explicit setting is kept.
process.env.UV_THREADPOOL_SIZE ??= "16";
// --debug also turns on the library's debug assertions, which read LM_MERGE_DEBUG once, when they load.
if (process.argv.includes("--debug")) process.env.LM_MERGE_DEBUG ??= "1";
const { main } = await import("../dist/cli/main.js");

process.exitCode = await main(process.argv.slice(2));
