CREATE TABLE "job_log_chunks" (
	"job_id" text NOT NULL,
	"last_seq" bigint NOT NULL,
	"seq" bigint NOT NULL,
	"ts" bigint NOT NULL,
	"stream" text NOT NULL,
	"level" text,
	"text" text NOT NULL,
	"meta" text,
	CONSTRAINT "job_log_chunks_job_id_last_seq_pk" PRIMARY KEY("job_id","last_seq")
);
--> statement-breakpoint
-- Every stored line carried over as a chunk of one
INSERT INTO "job_log_chunks" ("job_id", "last_seq", "seq", "ts", "stream", "level", "text", "meta")
	SELECT "job_id", "seq", "seq", "ts", "stream", "level", "text", CASE WHEN "cut" THEN '{"cut":[0]}' END FROM "job_logs";
--> statement-breakpoint
DROP TABLE "job_logs" CASCADE;