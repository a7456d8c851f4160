/**
 * Llama 3's prompt format as Meta documents it: the BOS token, then per turn
 * `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>` (content trimmed), and the generation prompt
 * opens an assistant header.
 */
export const LLAMA3 = {
	name: "llama3",
	markers: ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
	template:
		"{{ bos_token }}" +
		"{% for message in messages %}" +
		"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + (message['content'] | trim) + '<|eot_id|>' }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
} as const;
