CREATE TABLE `chunks_1h` (
	`id` integer PRIMARY KEY NOT NULL,
	`series_id` integer NOT NULL,
	`start_ts` integer NOT NULL,
	`count` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chunks_1h_series_start` ON `chunks_1h` (`series_id`,`start_ts`);--> statement-breakpoint
CREATE INDEX `chunks_1h_start` ON `chunks_1h` (`start_ts`);--> statement-breakpoint
CREATE TABLE `chunks_1m` (
	`id` integer PRIMARY KEY NOT NULL,
	`series_id` integer NOT NULL,
	`start_ts` integer NOT NULL,
	`count` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chunks_1m_series_start` ON `chunks_1m` (`series_id`,`start_ts`);--> statement-breakpoint
CREATE INDEX `chunks_1m_start` ON `chunks_1m` (`start_ts`);--> statement-breakpoint
CREATE TABLE `chunks_raw` (
	`id` integer PRIMARY KEY NOT NULL,
	`series_id` integer NOT NULL,
	`start_ts` integer NOT NULL,
	`count` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chunks_raw_series_start` ON `chunks_raw` (`series_id`,`start_ts`);--> statement-breakpoint
CREATE INDEX `chunks_raw_start` ON `chunks_raw` (`start_ts`);--> statement-breakpoint
CREATE TABLE `head` (
	`id` integer PRIMARY KEY NOT NULL,
	`min_ts` integer NOT NULL,
	`max_ts` integer NOT NULL,
	`data` blob NOT NULL
);
