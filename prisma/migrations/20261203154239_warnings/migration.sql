-- CreateTable
CREATE TABLE "Warning" (
    "uuid" TEXT NOT NULL PRIMARY KEY,
    "project" TEXT NOT NULL DEFAULT '',
    "location" TEXT NOT NULL DEFAULT 'none',
    "type" TEXT NOT NULL,
    "entityUrl" TEXT NOT NULL DEFAULT '',
    "count" INTEGER NOT NULL DEFAULT 1,
    "firstSeenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastMessage" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'new'
);

-- CreateIndex
CREATE UNIQUE INDEX "Warning_type_project_entityUrl_location_key" ON "Warning"("type", "project", "entityUrl", "location");
