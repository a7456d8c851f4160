/**
 * The scale searches of the k-quants, for one sub-block of `n` values with weights `w`:
 * - searchAffine: value ≈ scale·L − min with L in [0, nmax], scale ≥ 0, min ≥ 0 (Q4_K, Q5_K);
 * - searchSymmetric: value ≈ scale·L with L in [−nmax, nmax − 1] (Q6_K: nmax 32).
 * Each tries CANDIDATES inverse scales around the one that maps the value range onto the integer range,
 * rounds, refits the scale (and min) by weighted least squares for those integers, and keeps the fit with
 * the smallest weighted squared error.
 */

/** The result of a search (reused between calls to spare allocations). */
export interface Fit {
	scale: number;
	min: number;
}

/** Candidates tried per sub-block: inverse scales from (nmax − 1) to (nmax + 1) per unit of range. */
const CANDIDATES = 21;
const SPREAD = 1;

export function searchAffine(x: Float32Array, at: number, n: number, nmax: number, w: Float32Array, fit: Fit): void {
	let lo = x[at]!;
	let hi = lo;
	let sw = 0;
	let swx = 0;
	for (let i = 0; i < n; i++) {
		const v = x[at + i]!;
		if (v < lo) lo = v;
		if (v > hi) hi = v;
		sw += w[i]!;
		swx += w[i]! * v;
	}
	// The minimum is stored as a non-negative amount subtracted, so the range always includes 0.
	if (lo > 0) lo = 0;
	if (hi === lo) {
		fit.scale = 0;
		fit.min = -lo;
		return;
	}
	let swx2 = 0;
	for (let i = 0; i < n; i++) swx2 += w[i]! * x[at + i]! * x[at + i]!;
	let bestErr = Infinity;
	let bestScale = (hi - lo) / nmax;
	let bestMin = -lo;
	const range = hi - lo;
	for (let c = 0; c < CANDIDATES; c++) {
		const iscale = (nmax - SPREAD + (2 * SPREAD * c) / (CANDIDATES - 1)) / range;
		let swl = 0;
		let swl2 = 0;
		let swxl = 0;
		for (let i = 0; i < n; i++) {
			const v = x[at + i]!;
			// iscale·(v − lo) ≥ 0, so rounding is floor(· + 0.5).
			let l = Math.floor(iscale * (v - lo) + 0.5);
			if (l > nmax) l = nmax;
			const wi = w[i]!;
			swl += wi * l;
			swl2 += wi * l * l;
			swxl += wi * v * l;
		}
		// Weighted least squares for v ≈ a·l + b; b = −min must be ≤ 0.
		const det = sw * swl2 - swl * swl;
		let a = 0;
		let b = 0;
		if (det > 0) {
			a = (sw * swxl - swl * swx) / det;
			b = (swl2 * swx - swl * swxl) / det;
		}
		if (b > 0 || det <= 0) {
			b = 0;
			a = swl2 > 0 ? swxl / swl2 : 0;
		}
		if (a <= 0) continue;
		// Σw(a·l + b − v)², expanded over the sums already at hand: no second pass over the values.
		const err = a * a * swl2 + 2 * a * b * swl + b * b * sw - 2 * a * swxl - 2 * b * swx + swx2;
		if (err < bestErr) {
			bestErr = err;
			bestScale = a;
			bestMin = -b;
		}
	}
	fit.scale = bestScale;
	fit.min = bestMin;
}

export function searchSymmetric(x: Float32Array, at: number, n: number, nmax: number, w: Float32Array, fit: Fit): void {
	let max = 0;
	let amax = 0;
	for (let i = 0; i < n; i++) {
		const a = Math.abs(x[at + i]!);
		if (a > amax) {
			amax = a;
			max = x[at + i]!;
		}
	}
	fit.min = 0;
	if (max === 0) {
		fit.scale = 0;
		return;
	}
	let best = -1;
	let bestScale = max / -nmax;
	const top = nmax - 1;
	for (let c = 0; c < CANDIDATES; c++) {
		// The extreme value maps near −nmax, the longer side of [−nmax, nmax − 1].
		const iscale = -(nmax - SPREAD + (2 * SPREAD * c) / (CANDIDATES - 1)) / max;
		let swxl = 0;
		let swl2 = 0;
		for (let i = 0; i < n; i++) {
			const v = x[at + i]!;
			let l = Math.floor(iscale * v + 0.5);
			l = l < -nmax ? -nmax : l > top ? top : l;
			const wl = w[i]! * l;
			swxl += wl * v;
			swl2 += wl * l;
		}
		// With the least-squares scale swxl/swl2, the weighted error is Σw·x² − swxl²/swl2: maximize the last term.
		if (swl2 > 0 && (swxl * swxl) / swl2 > best) {
			best = (swxl * swxl) / swl2;
			bestScale = swxl / swl2;
		}
	}
	fit.scale = bestScale;
}
