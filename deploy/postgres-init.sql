-- Compose only: one database per service, as in production (DESIGN.md section 1).
-- The postgres image runs this once, when its data volume is first created.
CREATE DATABASE haven_identity;
CREATE DATABASE haven_family_tracing;
CREATE DATABASE haven_learning;
