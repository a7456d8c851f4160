import { describe, expect, it } from "vitest";
import { parseGnuTimeCpu, parseGnuTimeRss, parseSelfRss, runMeasured, SELF_RSS_PREFIX } from "../../bench/rss.js";

describe("parseGnuTimeRss", () => {
	it("reads the maximum resident set size in bytes", () => {
		const report = '\tCommand being timed: "node x"\n\tMaximum resident set size (kbytes): 51200\n\tExit status: 0\n';
		expect(parseGnuTimeRss(report)).toBe(51200 * 1024);
	});

	it("is undefined without the line", () => {
		expect(parseGnuTimeRss("Command exited with non-zero status 1\n")).toBeUndefined();
	});
});

describe("parseGnuTimeCpu", () => {
	it("adds user and system seconds", () => {
		const report = "\tUser time (seconds): 12.25\n\tSystem time (seconds): 3.5\n\tPercent of CPU this job got: 150%\n";
		expect(parseGnuTimeCpu(report)).toBe(15.75);
	});

	it("is undefined when either is missing", () => {
		expect(parseGnuTimeCpu("\tUser time (seconds): 1.0\n")).toBeUndefined();
	});
});

describe("parseSelfRss", () => {
	it("takes the last report line, in bytes", () => {
		const stderr = `noise\n${SELF_RSS_PREFIX} 100\nmore\n${SELF_RSS_PREFIX} 300\n`;
		expect(parseSelfRss(stderr)).toBe(300 * 1024);
	});

	it("is undefined when the child did not report", () => {
		expect(parseSelfRss("error: something\n")).toBeUndefined();
	});
});

describe("runMeasured", () => {
	it("captures output and exit code and sees a 64 MiB allocation in the peak RSS", async () => {
		const script = [
			"const a = new Uint8Array(64 * 2 ** 20).fill(1);",
			"process.stdout.write(String(a[12345]));",
			`process.stderr.write("${SELF_RSS_PREFIX} " + process.resourceUsage().maxRSS + "\\n");`,
			"process.exitCode = 3;",
		].join(" ");
		const r = await runMeasured(process.execPath, ["-e", script]);
		expect(r.exitCode).toBe(3);
		expect(r.stdout).toBe("1");
		expect(r.rssSource).not.toBe("none");
		expect(r.peakRssBytes).toBeGreaterThan(64 * 2 ** 20);
		expect(r.wallSeconds).toBeGreaterThan(0);
	});
});
