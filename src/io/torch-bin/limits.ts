/**
 * Every limit the `.bin` reader enforces on untrusted bytes, each with why it has that value. A checkpoint over one of
 * them is refused with TorchBinError kind "LimitExceeded" naming the file and the value.
 */

/**
 * Largest `data.pkl` (or legacy main pickle) read into memory. A state dict's pickle holds about 150 bytes per
 * tensor: a 7B model's is ~50 KB and a 400B model's largest shard well under 1 MB, so 64 MiB is far beyond any real
 * checkpoint yet small enough to hold in memory.
 */
export const MAX_PICKLE_BYTES = 64 * 2 ** 20;

/**
 * Deepest the unpickler's value stack (plus marks) may grow. torch writes dict items in batches of 1000 (pickle's
 * batch size), so a state dict needs a few thousand entries at most; 100,000 stops a pickle that only pushes.
 */
export const MAX_STACK_ITEMS = 100_000;

/** Memo entries: torch memoizes about a dozen objects per tensor, so 4 million covers 300,000 tensors. */
export const MAX_MEMO_ENTRIES = 4_000_000;

/**
 * Bytes of one LONG1/LONG4 integer. Tensor sizes, strides and offsets fit in 8 bytes and the legacy format's magic
 * number in 10; anything longer is refused before a huge BigInt is built.
 */
export const MAX_LONG_BYTES = 16;

/** Dimensions of one tensor: no model weight uses more than 5; 32 bounds the index arithmetic of hostile shapes. */
export const MAX_TENSOR_RANK = 32;

/**
 * Entries of one zip: a state dict has one storage record per tensor plus a handful of metadata entries, and the
 * largest single-file checkpoints hold a few thousand tensors, so 1,000,000 is generous while bounding the directory
 * scan.
 */
export const MAX_ZIP_ENTRIES = 1_000_000;

/**
 * Tensors of one state dict; the same reasoning as MAX_ZIP_ENTRIES (one record each), applied to the pickle so a
 * legacy file (which has no zip directory) is bounded too.
 */
export const MAX_TENSORS = 1_000_000;
