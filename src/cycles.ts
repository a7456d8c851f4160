/**
 * Finding the loop in a parsed YAML value. A self-referencing anchor (`a: &x {b: *x}`) parses to an object that
 * contains itself; anything that later walks or prints it (JSON.stringify, a schema check) then fails with
 * "Converting circular structure" or recurses forever. Loaders call this right after parsing and report the path.
 */

interface Frame {
	node: object;
	keys: (string | number)[];
	next: number;
}

/**
 * The path (mapping keys and sequence indices) of the first place where `value` refers back to one of its own
 * ancestors, or undefined when it is a tree or a DAG. A subtree shared by several aliases is visited once, so the
 * walk is linear in the number of distinct objects.
 */
export function cyclePath(value: unknown): (string | number)[] | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const onPath = new Set<object>();
	const done = new Set<object>();
	const keysOf = (o: object): (string | number)[] => (Array.isArray(o) ? o.map((_, i) => i) : Object.keys(o));
	const stack: Frame[] = [{ node: value, keys: keysOf(value), next: 0 }];
	onPath.add(value);
	while (stack.length > 0) {
		const top = stack[stack.length - 1]!;
		if (top.next >= top.keys.length) {
			stack.pop();
			onPath.delete(top.node);
			done.add(top.node);
			continue;
		}
		const key = top.keys[top.next++]!;
		const child: unknown = (top.node as Record<string | number, unknown>)[key];
		if (typeof child !== "object" || child === null || done.has(child)) continue;
		// Each frame's current key leads to the next frame; the top frame's is `key`.
		if (onPath.has(child)) return stack.map((f) => f.keys[f.next - 1]!);
		onPath.add(child);
		stack.push({ node: child, keys: keysOf(child), next: 0 });
	}
	return undefined;
}
