CREATE TABLE `host_gaps` (
	`id` integer PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`spool_id` text NOT NULL,
	`from_seq` integer NOT NULL,
	`to_seq` integer NOT NULL,
	`from_ts` integer NOT NULL,
	`to_ts` integer NOT NULL,
	`ticks` integer NOT NULL,
	`reported_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `host_gaps_seq` ON `host_gaps` (`host`,`spool_id`,`from_seq`);--> statement-breakpoint
CREATE INDEX `host_gaps_host` ON `host_gaps` (`host`,`to_ts`);--> statement-breakpoint
CREATE TABLE `hosts` (
	`name` text PRIMARY KEY NOT NULL,
	`local` integer NOT NULL,
	`token_id` integer,
	`machine_id` text,
	`agent_version` text,
	`info` text,
	`spool` text,
	`backfill` text,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_token` ON `hosts` (`token_id`);--> statement-breakpoint
CREATE TABLE `ingest_cursors` (
	`stream` text PRIMARY KEY NOT NULL,
	`through` integer NOT NULL,
	`updated_at` integer NOT NULL
);
