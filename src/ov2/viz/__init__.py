"""ov2.viz"""
