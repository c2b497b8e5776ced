//! The field console: the web pages Haven's people work in, served by the gateway on its own port. Every
//! page acts through the same RPCs, rule table, policy and audit as the API, with a short-lived token
//! minted for the signed-in user; the console keeps no child data of its own. It owns the deployment's
//! user directory ([`directory`]): agencies, teams, users, passwords, second factors and sessions.

#![forbid(unsafe_code)]

pub mod directory;
