/**
 * Stanford Alpaca's instruction format: a preamble sentence (or the system message in its place), then
 * `### Instruction:\n{instruction}\n\n` and `### Response:\n{response}` blocks; the generation prompt opens a
 * response block.
 */
export const ALPACA = {
	name: "alpaca",
	markers: [],
	template:
		"{% if messages[0]['role'] == 'system' %}" +
		"{% set preamble = messages[0]['content'] %}{% set turns = messages[1:] %}" +
		"{% else %}" +
		"{% set preamble = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.' %}" +
		"{% set turns = messages %}{% endif %}" +
		"{{ preamble + '\\n\\n' }}" +
		"{% for message in turns %}" +
		"{% if message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n' }}" +
		"{% else %}{{ '### Response:\\n' + message['content'] + eos_token + '\\n\\n' }}{% endif %}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}",
} as const;
