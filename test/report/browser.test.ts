/**
 * The HTML report in a real browser: Debian's chromium driven by playwright-core opens the page from
 * disk, finds every chart, makes no network request, and screenshots of the charts are not blank.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderReportHtml } from "../../src/report/html.js";
import { useTempDir } from "../helpers/fs.js";
import { requireBinary } from "../helpers/services.js";
import { sweepReportData } from "./fixtures.js";

const dir = useTempDir("lm-merge-report-browser-");
let context: BrowserContext;
let profile: string;

/** The flags the project runs Chromium with: headless, sandbox off (root in CI), nothing phoning home. */
const CHROMIUM_ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-background-networking",
	"--disable-gpu",
	"--no-first-run",
	"--disable-component-update",
	"--disable-sync",
];

beforeAll(async () => {
	const executablePath = requireBinary("chromium", "chromium");
	profile = await mkdtemp(path.join(os.tmpdir(), "lm-merge-chromium-profile-"));
	context = await chromium.launchPersistentContext(profile, {
		executablePath,
		headless: true,
		args: CHROMIUM_ARGS,
		viewport: { width: 1200, height: 900 },
	});
}, 120_000);

afterAll(async () => {
	await context?.close();
	if (profile !== undefined) await rm(profile, { recursive: true, force: true });
});

/**
 * Pixel statistics of a PNG, decoded by the browser itself on a blank page (the script is a string:
 * this project's TypeScript has no DOM types).
 */
const PIXEL_SCRIPT = `async (b64) => {
	const img = new Image();
	img.src = "data:image/png;base64," + b64;
	await img.decode();
	const canvas = document.createElement("canvas");
	canvas.width = img.width;
	canvas.height = img.height;
	const ctx = canvas.getContext("2d");
	ctx.drawImage(img, 0, 0);
	const data = ctx.getImageData(0, 0, img.width, img.height).data;
	const colors = new Set();
	let nonWhite = 0;
	let barBlue = 0;
	for (let i = 0; i < data.length; i += 4) {
		const r = data[i], g = data[i + 1], b = data[i + 2];
		colors.add((r << 16) | (g << 8) | b);
		if (r < 245 || g < 245 || b < 245) nonWhite++;
		if (Math.abs(r - 0x4c) < 12 && Math.abs(g - 0x78) < 12 && Math.abs(b - 0xa8) < 12) barBlue++;
	}
	return { total: data.length / 4, nonWhite, colors: colors.size, barBlue };
}`;

async function pixels(page: Page, png: Buffer): Promise<{ total: number; nonWhite: number; colors: number; barBlue: number }> {
	const fn = await page.evaluateHandle(PIXEL_SCRIPT);
	try {
		return (await fn.evaluate((f: unknown, b64: string) => (f as (x: string) => Promise<unknown>)(b64), png.toString("base64"))) as {
			total: number;
			nonWhite: number;
			colors: number;
			barBlue: number;
		};
	} finally {
		await fn.dispose();
	}
}

describe("the HTML report in headless Chromium", () => {
	test("opens from disk, shows every chart, loads nothing, and its charts are drawn", async () => {
		const file = path.join(dir(), "report.html");
		await writeFile(file, await renderReportHtml(sweepReportData()));
		const page = await context.newPage();
		const requests: string[] = [];
		page.on("request", (r) => requests.push(r.url()));
		await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
		expect(await page.title()).toBe("Sweep slerp-t");
		expect(requests).toEqual([pathToFileURL(file).href]);

		const charts = page.locator("figure.chart svg");
		expect(await charts.count()).toBe(7);
		for (const id of ["bar-medqa", "bar-pubmedqa", "bar-avg", "response-t", "reliability-0"]) {
			const box = await page.locator(`#${id} svg`).boundingBox();
			expect(box?.width ?? 0, id).toBeGreaterThan(150);
			expect(box?.height ?? 0, id).toBeGreaterThan(150);
		}
		expect(await page.locator("#accuracy tbody tr").count()).toBe(3);
		expect(await page.locator("#accuracy td.best strong").allTextContents()).toEqual(["55.0 ± 5.0", "70.0 ± 0.0", "50.0 ± 0.0"]);

		const blank = await context.newPage();
		const bar = await pixels(blank, await page.locator("#bar-medqa").screenshot());
		expect(bar.nonWhite / bar.total).toBeGreaterThan(0.05);
		expect(bar.barBlue).toBeGreaterThan(500);
		const response = await pixels(blank, await page.locator("#response-t").screenshot());
		expect(response.colors).toBeGreaterThan(20);
		const whole = await pixels(blank, await page.screenshot({ fullPage: true }));
		expect(whole.nonWhite / whole.total).toBeGreaterThan(0.02);
		await blank.close();
		await page.close();
	}, 120_000);
});
