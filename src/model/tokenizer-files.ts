/** Tokenizer and generation files copied from the tokenizer source when present (mergekit's list). */
export const TOKENIZER_FILES = [
	"tokenizer_config.json",
	"special_tokens_map.json",
	"tokenizer.json",
	"tokenizer.model",
	"added_tokens.json",
	"vocab.json",
	"merges.txt",
	"chat_template.jinja",
	"chat_template.json",
	"generation_config.json",
] as const;

/** The files that hold a vocabulary: a folder with none of them has no tokenizer to copy. */
export const VOCABULARY_FILES = ["tokenizer.json", "tokenizer.model", "vocab.json"] as const;

/**
 * Largest tokenizer file copied into an output. The biggest real ones (tokenizer.json of 256k-token vocabularies)
 * are around 35 MB; 512 MiB leaves a wide margin while keeping a stray huge file out of memory.
 */
export const MAX_TOKENIZER_FILE_BYTES = 512 * 1024 * 1024;
