CREATE TABLE `late` (
	`id` integer PRIMARY KEY NOT NULL,
	`data` blob NOT NULL
);
