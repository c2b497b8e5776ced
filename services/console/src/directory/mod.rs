//! The deployment's user directory: agencies, teams and users with a role, and how they sign in.
