/**
 * Zephyr's format as Hugging Face H4 documents it: every turn is `<|{role}|>\n{content}</s>\n` (the end-of-sequence
 * token closes each turn), and the generation prompt opens `<|assistant|>`.
 */
export const ZEPHYR = {
	name: "zephyr",
	markers: [],
	template:
		"{% for message in messages %}" +
		"{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
} as const;
