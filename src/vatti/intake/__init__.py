"""The Kafka intake: hattivatti's job messages read from a topic and submitted as jobs."""
