-- The PeerTube tables mpcrec reads, as PeerTube's Sequelize models create them.
--
-- Follows PeerTube v8: Chocobozzz/PeerTube, develop branch after the 8.1 release
-- (server/core/models/, migration 1120 "manual-migration-scripts-run": the application
-- table without timestamps, with "configPart" and "manualMigrationScriptsRun"), and keeps
-- the columns the 7.x line added ("nsfwFlags" on video). In particular
-- user/user-video-history.ts, account/account-video-rate.ts, account/account.ts,
-- user/user.ts, video/video.ts, video/video-playlist.ts, video/video-playlist-element.ts,
-- video/tag.ts, video/video-tag.ts, video/video-channel.ts, actor/actor.ts,
-- server/server.ts, application/application.ts, server/plugin.ts, and the moderation
-- tables at the end.
--
-- Table and column names, types, NULL-ability, foreign keys with their ON DELETE rules and
-- unique indexes are PeerTube's. Columns mpcrec never reads are kept only where they are
-- NOT NULL in PeerTube (so inserts look like PeerTube's); the others are left out. This
-- file is for tests and demos: never run it against a real PeerTube database.

-- PeerTube v8's application table (timestamps: false in its model, so no createdAt).
CREATE TABLE "application" (
  "id" SERIAL PRIMARY KEY,
  "migrationVersion" INTEGER NOT NULL DEFAULT 0,
  "latestPeerTubeVersion" VARCHAR(255),
  "configPart" JSONB,
  "manualMigrationScriptsRun" VARCHAR(255)[] NOT NULL DEFAULT '{}'
);

CREATE TABLE "server" (
  "id" SERIAL PRIMARY KEY,
  "host" VARCHAR(255) NOT NULL,
  "redundancyAllowed" BOOLEAN NOT NULL DEFAULT false,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "server_host" ON "server" ("host");

CREATE TABLE "user" (
  "id" SERIAL PRIMARY KEY,
  "password" VARCHAR(255),
  "username" VARCHAR(255) NOT NULL,
  "email" VARCHAR(400) NOT NULL,
  "emailVerified" BOOLEAN,
  "nsfwPolicy" VARCHAR(255) NOT NULL DEFAULT 'do_not_list',
  "p2pEnabled" BOOLEAN NOT NULL DEFAULT true,
  "videosHistoryEnabled" BOOLEAN NOT NULL DEFAULT true,
  "autoPlayVideo" BOOLEAN NOT NULL DEFAULT true,
  "role" INTEGER NOT NULL,
  "blocked" BOOLEAN NOT NULL DEFAULT false,
  "videoQuota" BIGINT NOT NULL,
  "videoQuotaDaily" BIGINT NOT NULL,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "user_username" ON "user" ("username");
CREATE UNIQUE INDEX "user_email" ON "user" ("email");

CREATE TABLE "account" (
  "id" SERIAL PRIMARY KEY,
  "name" VARCHAR(255) NOT NULL,
  "description" VARCHAR(1000),
  "userId" INTEGER REFERENCES "user" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "applicationId" INTEGER REFERENCES "application" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX "account_user_id" ON "account" ("userId");
CREATE INDEX "account_application_id" ON "account" ("applicationId");

CREATE TABLE "videoChannel" (
  "id" SERIAL PRIMARY KEY,
  "name" VARCHAR(255) NOT NULL,
  "description" VARCHAR(1000),
  "support" VARCHAR(1000),
  "accountId" INTEGER NOT NULL REFERENCES "account" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX "video_channel_account_id" ON "videoChannel" ("accountId");

CREATE TYPE "enum_actor_type" AS ENUM ('Group', 'Person', 'Application');
CREATE TABLE "actor" (
  "id" SERIAL PRIMARY KEY,
  "type" "enum_actor_type" NOT NULL,
  "preferredUsername" VARCHAR(255) NOT NULL,
  "url" VARCHAR(2000) NOT NULL,
  "inboxUrl" VARCHAR(2000) NOT NULL,
  "followersCount" INTEGER NOT NULL DEFAULT 0,
  "followingCount" INTEGER NOT NULL DEFAULT 0,
  "serverId" INTEGER REFERENCES "server" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "accountId" INTEGER REFERENCES "account" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "videoChannelId" INTEGER REFERENCES "videoChannel" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "actor_url" ON "actor" ("url");
CREATE INDEX "actor_server_id" ON "actor" ("serverId");
CREATE UNIQUE INDEX "actor_account_id" ON "actor" ("accountId");
CREATE UNIQUE INDEX "actor_video_channel_id" ON "actor" ("videoChannelId");

CREATE TABLE "video" (
  "id" SERIAL PRIMARY KEY,
  "uuid" UUID NOT NULL,
  "name" VARCHAR(255) NOT NULL,
  "category" INTEGER,
  "licence" INTEGER,
  "language" VARCHAR(10),
  "privacy" INTEGER NOT NULL,
  "nsfw" BOOLEAN NOT NULL,
  "nsfwFlags" INTEGER NOT NULL DEFAULT 0,
  "description" VARCHAR(10000),
  "support" VARCHAR(1000),
  "duration" INTEGER NOT NULL,
  "views" INTEGER NOT NULL DEFAULT 0,
  "likes" INTEGER NOT NULL DEFAULT 0,
  "dislikes" INTEGER NOT NULL DEFAULT 0,
  "comments" INTEGER NOT NULL DEFAULT 0,
  "remote" BOOLEAN NOT NULL,
  "isLive" BOOLEAN NOT NULL DEFAULT false,
  "url" VARCHAR(2000) NOT NULL,
  "commentsPolicy" INTEGER NOT NULL,
  "downloadEnabled" BOOLEAN NOT NULL,
  "waitTranscoding" BOOLEAN NOT NULL,
  "state" INTEGER NOT NULL,
  "publishedAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "originallyPublishedAt" TIMESTAMP WITH TIME ZONE,
  "channelId" INTEGER REFERENCES "videoChannel" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "video_uuid" ON "video" ("uuid");
CREATE UNIQUE INDEX "video_url" ON "video" ("url");
CREATE INDEX "video_channel_id" ON "video" ("channelId");
CREATE INDEX "video_published_at_id" ON "video" ("publishedAt" DESC, "id" ASC);
CREATE INDEX "video_remote" ON "video" ("remote") WHERE "remote" = false;

CREATE TABLE "tag" (
  "id" SERIAL PRIMARY KEY,
  "name" VARCHAR(255) NOT NULL,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "tag_name" ON "tag" ("name");

CREATE TABLE "videoTag" (
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "videoId" INTEGER REFERENCES "video" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "tagId" INTEGER REFERENCES "tag" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  PRIMARY KEY ("videoId", "tagId")
);
CREATE INDEX "video_tag_video_id" ON "videoTag" ("videoId");
CREATE INDEX "video_tag_tag_id" ON "videoTag" ("tagId");

CREATE TABLE "userVideoHistory" (
  "id" SERIAL PRIMARY KEY,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "currentTime" INTEGER NOT NULL,
  "videoId" INTEGER NOT NULL REFERENCES "video" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "userId" INTEGER NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "user_video_history_user_id_video_id"
  ON "userVideoHistory" ("userId", "videoId");
CREATE INDEX "user_video_history_user_id" ON "userVideoHistory" ("userId");
CREATE INDEX "user_video_history_video_id" ON "userVideoHistory" ("videoId");

CREATE TYPE "enum_accountVideoRate_type" AS ENUM ('like', 'dislike');
CREATE TABLE "accountVideoRate" (
  "id" SERIAL PRIMARY KEY,
  "type" "enum_accountVideoRate_type" NOT NULL,
  "url" VARCHAR(2000) NOT NULL,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "videoId" INTEGER NOT NULL REFERENCES "video" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "accountId" INTEGER NOT NULL REFERENCES "account" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "account_video_rate_video_id_account_id"
  ON "accountVideoRate" ("videoId", "accountId");
CREATE INDEX "account_video_rate_video_id" ON "accountVideoRate" ("videoId");
CREATE INDEX "account_video_rate_account_id" ON "accountVideoRate" ("accountId");
CREATE INDEX "account_video_rate_video_id_type" ON "accountVideoRate" ("videoId", "type");
CREATE UNIQUE INDEX "account_video_rate_url" ON "accountVideoRate" ("url");

CREATE TABLE "videoPlaylist" (
  "id" SERIAL PRIMARY KEY,
  "name" VARCHAR(255) NOT NULL,
  "description" VARCHAR(1000),
  "privacy" INTEGER NOT NULL,
  "url" VARCHAR(2000) NOT NULL,
  "uuid" UUID NOT NULL,
  "type" INTEGER NOT NULL DEFAULT 1,
  "videoChannelPosition" INTEGER,
  "ownerAccountId" INTEGER NOT NULL REFERENCES "account" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "videoChannelId" INTEGER REFERENCES "videoChannel" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "video_playlist_url" ON "videoPlaylist" ("url");
CREATE UNIQUE INDEX "video_playlist_uuid" ON "videoPlaylist" ("uuid");
CREATE INDEX "video_playlist_owner_account_id" ON "videoPlaylist" ("ownerAccountId");

CREATE TABLE "videoPlaylistElement" (
  "id" SERIAL PRIMARY KEY,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "url" VARCHAR(2000),
  "position" INTEGER NOT NULL DEFAULT 1,
  "startTimestamp" INTEGER,
  "stopTimestamp" INTEGER,
  "videoPlaylistId" INTEGER NOT NULL
    REFERENCES "videoPlaylist" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "videoId" INTEGER REFERENCES "video" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX "video_playlist_element_video_playlist_id"
  ON "videoPlaylistElement" ("videoPlaylistId");
CREATE INDEX "video_playlist_element_video_id" ON "videoPlaylistElement" ("videoId");
CREATE UNIQUE INDEX "video_playlist_element_url" ON "videoPlaylistElement" ("url");

-- Moderation, read at serving time (mpcrec.data.peertube_rules): models
-- video/video-blacklist.ts, account/account-blocklist.ts, server/server-blocklist.ts.
CREATE TABLE "videoBlacklist" (
  "id" SERIAL PRIMARY KEY,
  "reason" VARCHAR(300),
  "unfederated" BOOLEAN NOT NULL,
  "type" INTEGER NOT NULL,
  "videoId" INTEGER NOT NULL REFERENCES "video" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "video_blacklist_video_id" ON "videoBlacklist" ("videoId");

CREATE TABLE "accountBlocklist" (
  "id" SERIAL PRIMARY KEY,
  "accountId" INTEGER NOT NULL REFERENCES "account" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "targetAccountId" INTEGER NOT NULL
    REFERENCES "account" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "account_blocklist_account_id_target_account_id"
  ON "accountBlocklist" ("accountId", "targetAccountId");
CREATE INDEX "account_blocklist_target_account_id" ON "accountBlocklist" ("targetAccountId");

CREATE TABLE "serverBlocklist" (
  "id" SERIAL PRIMARY KEY,
  "accountId" INTEGER NOT NULL REFERENCES "account" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "targetServerId" INTEGER NOT NULL
    REFERENCES "server" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "server_blocklist_account_id_target_server_id"
  ON "serverBlocklist" ("accountId", "targetServerId");
CREATE INDEX "server_blocklist_target_server_id" ON "serverBlocklist" ("targetServerId");

-- Installed plugins and their storage (server/plugin.ts). peertube-plugin-mpcrec keeps
-- its users' training opt-outs in its "storage" (storageManager.storeData); "settings"
-- holds the plugin's settings, the node's shared secret among them: never granted.
CREATE TABLE "plugin" (
  "id" SERIAL PRIMARY KEY,
  "name" VARCHAR(255) NOT NULL,
  "type" INTEGER NOT NULL,
  "version" VARCHAR(255) NOT NULL,
  "latestVersion" VARCHAR(255),
  "enabled" BOOLEAN NOT NULL,
  "uninstalled" BOOLEAN NOT NULL,
  "peertubeEngine" VARCHAR(255) NOT NULL,
  "description" VARCHAR(255),
  "homepage" VARCHAR(255) NOT NULL,
  "settings" JSONB,
  "storage" JSONB,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE UNIQUE INDEX "plugin_name_type" ON "plugin" ("name", "type");
