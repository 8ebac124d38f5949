CREATE TABLE "alert_channels" (
	"name" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"url" text NOT NULL,
	"headers" text,
	"min_severity" text NOT NULL,
	"updated_at" bigint NOT NULL,
	"updated_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alert_rules" (
	"name" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"spec" text NOT NULL,
	"updated_at" bigint NOT NULL,
	"updated_by" text NOT NULL
);
