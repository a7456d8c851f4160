/** Progress of downloadSnapshotIter(), for a progress bar: bytes, rate and ETA are computed from `progress`. */
export type DownloadEvent =
	/** The revision is resolved and the file list known; `cachedBytes` of `totalBytes` are already on disk. */
	| { event: "resolved"; repoId: string; revision: string; commit: string; files: number; totalBytes: number; cachedBytes: number }
	/** Another process (lm-merge or Python) holds the file's lock; this one waits for it. */
	| { event: "waiting"; path: string; lock: string }
	/** A transfer starts; `resumedFrom` > 0 when an earlier interrupted download is continued. */
	| { event: "fileStart"; path: string; size: number; resumedFrom: number }
	/** Bytes on disk across all files (cached ones included), at most every PROGRESS_INTERVAL_MS. */
	| { event: "progress"; doneBytes: number; totalBytes: number }
	/** A transfer failed (network, or checksum mismatch) and is retried. */
	| { event: "retry"; path: string; attempt: number; reason: string }
	/** A file is verified and linked into the snapshot; `from` says whether it was transferred now. */
	| { event: "fileDone"; path: string; size: number; from: "cache" | "hub" }
	/** Every file is in place. */
	| { event: "done"; path: string; commit: string; downloadedBytes: number; seconds: number }
	| { event: "warning"; message: string };

/** What downloadSnapshot() returns. */
export interface DownloadResult {
	repoId: string;
	/** The revision asked for (default "main"). */
	revision: string;
	commit: string;
	/** The snapshot folder `…/models--org--name/snapshots/<commit>`. */
	path: string;
	/** Repo-relative paths now in the snapshot. */
	files: string[];
	/** Bytes transferred by this call (0 when everything was cached). */
	downloadedBytes: number;
	cachedBytes: number;
	seconds: number;
}

/** Progress of uploadFolderIter(). */
export type UploadEvent =
	/** What will be committed: `files` files, `bytes` in all. */
	| { event: "planned"; repo: string; files: number; bytes: number; created: boolean }
	| { event: "phase"; phase: "preuploading" | "uploadingLargeFiles" | "committing" }
	/** `progress` in [0, 1] of one file's hashing or upload. */
	| { event: "fileProgress"; path: string; state: "hashing" | "uploading"; progress: number }
	| { event: "done"; repo: string; commit: string; url: string; seconds: number };

/** What uploadFolder() returns. */
export interface UploadResult {
	repo: string;
	/** The new commit's id. */
	commit: string;
	/** The commit's page on the Hub. */
	url: string;
	files: string[];
	bytes: number;
	/** Whether the repo was created by this upload. */
	created: boolean;
	seconds: number;
}
