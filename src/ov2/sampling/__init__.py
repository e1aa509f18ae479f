"""ov2.sampling"""
