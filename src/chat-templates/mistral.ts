/**
 * Mistral Instruct's format as Mistral AI documents it: `<s>[INST] {instruction} [/INST] {answer}</s>[INST] ...`.
 * The format has no system role; a leading system message is put before the first instruction, separated by a
 * blank line (the usual convention). The generation prompt is the open `[/INST]` itself.
 */
export const MISTRAL = {
	name: "mistral",
	markers: [],
	template:
		"{% if messages[0]['role'] == 'system' %}" +
		"{% set system = messages[0]['content'] + '\\n\\n' %}{% set turns = messages[1:] %}" +
		"{% else %}{% set system = '' %}{% set turns = messages %}{% endif %}" +
		"{{ bos_token }}" +
		"{% for message in turns %}" +
		"{% if message['role'] == 'user' %}" +
		"{{ '[INST] ' + (system if loop.first else '') + message['content'] + ' [/INST]' }}" +
		"{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}" +
		"{% endfor %}",
} as const;
