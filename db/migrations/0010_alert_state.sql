CREATE TABLE `alert_attempts` (
	`id` integer PRIMARY KEY NOT NULL,
	`notification_id` integer NOT NULL,
	`at` integer NOT NULL,
	`ok` integer NOT NULL,
	`status` integer,
	`error` text,
	`ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alert_attempts_notification` ON `alert_attempts` (`notification_id`);--> statement-breakpoint
CREATE TABLE `alert_notifications` (
	`id` integer PRIMARY KEY NOT NULL,
	`alert_id` text NOT NULL,
	`channel` text NOT NULL,
	`key` text NOT NULL,
	`state` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alert_notifications_key` ON `alert_notifications` (`key`,`channel`);--> statement-breakpoint
CREATE INDEX `alert_notifications_due` ON `alert_notifications` (`status`,`next_at`);--> statement-breakpoint
CREATE INDEX `alert_notifications_alert` ON `alert_notifications` (`alert_id`);--> statement-breakpoint
CREATE TABLE `alert_silences` (
	`id` text PRIMARY KEY NOT NULL,
	`matchers` text NOT NULL,
	`reason` text NOT NULL,
	`created_by` text NOT NULL,
	`starts_at` integer NOT NULL,
	`ends_at` integer NOT NULL,
	`ended_by` text,
	`closed_at` integer
);
--> statement-breakpoint
CREATE INDEX `alert_silences_ends` ON `alert_silences` (`ends_at`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`rule` text NOT NULL,
	`kind` text NOT NULL,
	`host` text NOT NULL,
	`series` text NOT NULL,
	`state` text NOT NULL,
	`severity` text NOT NULL,
	`value` real,
	`threshold` real,
	`since` integer NOT NULL,
	`starts_at` integer,
	`ends_at` integer,
	`episode` integer NOT NULL,
	`notified_episode` integer NOT NULL,
	`notified_at` integer,
	`repeats` integer NOT NULL,
	`labels` text NOT NULL,
	`history` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alerts_state` ON `alerts` (`state`);--> statement-breakpoint
CREATE INDEX `alerts_updated` ON `alerts` (`updated_at`);