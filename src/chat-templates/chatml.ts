/**
 * ChatML, the markup of OpenAI's chat format also used by Qwen, Hermes and many fine-tunes: every turn is
 * `<|im_start|>{role}\n{content}<|im_end|>\n`, and the generation prompt opens an assistant turn. Any role
 * (system, user, assistant, tool) is written the same way.
 */
export const CHATML = {
	name: "chatml",
	markers: ["<|im_start|>", "<|im_end|>"],
	template:
		"{% for message in messages %}" +
		"{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
} as const;
