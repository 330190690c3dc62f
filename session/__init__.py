"""The session engine: phases, cues, personal targets, camera and machine fused."""
