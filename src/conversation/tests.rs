//! Scenario tests of the conversation.
