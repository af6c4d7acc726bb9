-- AlterTable
ALTER TABLE "StorageVolume" ADD COLUMN "expiresAt" DATETIME;
