CREATE TABLE `audit` (
	`id` integer PRIMARY KEY NOT NULL,
	`ts` integer NOT NULL,
	`actor_name` text NOT NULL,
	`actor_role` text NOT NULL,
	`remote` text,
	`command` text NOT NULL,
	`args` text NOT NULL,
	`outcome` text NOT NULL,
	`error_code` text
);
--> statement-breakpoint
CREATE INDEX `audit_ts` ON `audit` (`ts`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`version` integer NOT NULL,
	`updated_at` integer NOT NULL
);
