/**
 * The results store's schema (docs/sweeps.md documents every column). Times are ISO 8601 UTC text;
 * JSON columns hold text a user can query with SQLite's json_extract().
 */
export const STORE_SCHEMA_VERSION = 1;

export const STORE_SCHEMA = `
CREATE TABLE IF NOT EXISTS trials (
  key            TEXT PRIMARY KEY,   -- sha256 of the resolved recipe (or evaluated model) + result-changing eval settings
  sweep          TEXT,               -- the sweep's name; NULL for rows written by merge eval --store
  params         TEXT NOT NULL,      -- JSON: the varied values, recipe path -> value ({"model": ...} for merge eval)
  status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  objective      REAL,               -- the sweep's objective (higher is better)
  objective_name TEXT,               -- which objective: mean_accuracy, accuracy:medqa, ...
  scores         TEXT,               -- JSON per task: n, acc, acc_std, acc_per_seed, acc_letters, acc_norm, ece, reliability
  error          TEXT,               -- one line, for failed trials
  created_at     TEXT NOT NULL,
  started_at     TEXT,
  finished_at    TEXT,
  worker         TEXT,               -- [name@]host:pid of the process that ran it
  attempts       INTEGER NOT NULL DEFAULT 0,  -- times a process started it (a lost worker's trial runs again)
  seconds        REAL,               -- wall time of the trial
  merge_seconds  REAL,
  eval_seconds   REAL,
  model          TEXT,               -- the kept merged model (--keep) or the evaluated model folder
  recipe         TEXT,               -- the trial's recipe YAML, as merged
  eval           TEXT,               -- JSON: the eval settings
  report         TEXT                -- JSON: the evaluation report without per-item records
);
CREATE INDEX IF NOT EXISTS trials_by_sweep ON trials (sweep, status);
`;

/** Columns a store must have to be read (an older or foreign file lacking one is refused). */
export const TRIAL_COLUMNS = [
	"key",
	"sweep",
	"params",
	"status",
	"objective",
	"objective_name",
	"scores",
	"error",
	"created_at",
	"started_at",
	"finished_at",
	"worker",
	"attempts",
	"seconds",
	"merge_seconds",
	"eval_seconds",
	"model",
	"recipe",
	"eval",
	"report",
] as const;
