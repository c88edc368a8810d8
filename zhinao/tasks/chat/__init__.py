"""Chat data for post-training: the chat dataset schema (messages with roles), stable ids, checks of
a conversation's shape, text units for lengths and similarity, and user files in the common layouts."""
