CREATE TABLE `job_logs` (
	`job_id` text NOT NULL,
	`seq` integer NOT NULL,
	`ts` integer NOT NULL,
	`stream` text NOT NULL,
	`level` text,
	`text` text NOT NULL,
	`cut` integer NOT NULL,
	PRIMARY KEY(`job_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`labels` text NOT NULL,
	`host` text NOT NULL,
	`attempt` integer NOT NULL,
	`retry_of` text,
	`state` text NOT NULL,
	`progress` text NOT NULL,
	`owner_token_id` integer,
	`command` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`heartbeat_at` integer,
	`exit_code` integer,
	`error` text,
	`cancel_requested` text,
	`log_lines` integer NOT NULL,
	`log_dropped` integer NOT NULL,
	`last_batch` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_created` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_state` ON `jobs` (`state`);