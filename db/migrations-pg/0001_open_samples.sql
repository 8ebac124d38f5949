CREATE TABLE "open_samples" (
	"series_id" bigint NOT NULL,
	"ts" bigint NOT NULL,
	"value" double precision NOT NULL,
	CONSTRAINT "open_samples_series_id_ts_pk" PRIMARY KEY("series_id","ts")
);
--> statement-breakpoint
DROP TABLE "head" CASCADE;--> statement-breakpoint
DROP TABLE "late" CASCADE;