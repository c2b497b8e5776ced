//! The learning service: curricula, learners, learning records and learning passports.
