//! The Twilio emulator: stateful Chat v2, Flex v1, Conversations v1 and Studio v2, with signed webhooks.
