/**
 * The node-llama-cpp install decision (docs/gguf.md, "Installing llama.cpp's binaries"): pinned exactly, its
 * GPU binary packages overridden with a package no desktop CPU installs, so `npm ci` brings the CPU build only.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
	dependencies: Record<string, string>;
	overrides?: Record<string, Record<string, string>>;
};
const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as {
	packages: Record<string, { name?: string; version?: string; cpu?: string[] }>;
};
const GPU = ["linux-x64-cuda", "linux-x64-cuda-ext", "linux-x64-vulkan", "win-x64-cuda", "win-x64-cuda-ext", "win-x64-vulkan"];

test("node-llama-cpp is pinned exactly, and every GPU binary package is overridden at the same version", () => {
	const version = pkg.dependencies["node-llama-cpp"];
	expect(version).toMatch(/^\d+\.\d+\.\d+$/);
	const overrides = pkg.overrides?.["node-llama-cpp"] ?? {};
	expect(Object.keys(overrides).sort()).toEqual(GPU.map((g) => `@node-llama-cpp/${g}`).sort());
	for (const target of Object.values(overrides)) expect(target).toBe(`npm:@node-llama-cpp/linux-riscv64@${version}`);
});

test("the lockfile records the GPU packages as the riscv64 alias, which no x64/arm64 machine installs", () => {
	for (const g of GPU) {
		const entry = lock.packages[`node_modules/@node-llama-cpp/${g}`];
		expect(entry, g).toMatchObject({ name: "@node-llama-cpp/linux-riscv64", version: pkg.dependencies["node-llama-cpp"] });
		expect(entry?.cpu).toEqual(["riscv64"]);
	}
	expect(lock.packages["node_modules/@node-llama-cpp/linux-x64"]?.version).toBe(pkg.dependencies["node-llama-cpp"]);
});

test.runIf(process.platform === "linux" && process.arch === "x64")(
	"this install has llama.cpp's CPU binaries, and no GPU package name holds the placeholder",
	() => {
		const dir = path.join(REPO_ROOT, "node_modules", "@node-llama-cpp");
		expect(existsSync(path.join(dir, "linux-x64", "bins"))).toBe(true);
		// Absent after `npm ci`; present only as the real package when a GPU user added it (docs/gguf.md).
		for (const g of GPU.filter((x) => x.startsWith("linux"))) {
			const file = path.join(dir, g, "package.json");
			if (existsSync(file)) expect((JSON.parse(readFileSync(file, "utf8")) as { name: string }).name, g).toBe(`@node-llama-cpp/${g}`);
		}
	},
);
