"""ov2.codec"""
